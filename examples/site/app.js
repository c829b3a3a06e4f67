// Shows how each resource of this page arrived, from the Resource Timing API.
window.addEventListener("load", () => {
  const lines = performance.getEntriesByType("resource").map((e) =>
    `${new URL(e.name).pathname}  initiator=${e.initiatorType}  protocol=${e.nextHopProtocol}`);
  document.getElementById("how").textContent = lines.join("\n") || "no sub-resources";
});
