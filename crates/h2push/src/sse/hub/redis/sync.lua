-- Brings the topics being read up to the hub's newest id in one atomic step, before new
-- topics join: returns the newest id and, per stream, the entries after the cursor up to it.
--
-- KEYS: 1 last id, then the streams being read
-- ARGV: 1 cursor (ms-seq)
-- Returns {last id, entries of stream 1, entries of stream 2, ...}.
local last = redis.call('GET', KEYS[1]) or '0-0'
local out = {last}
for i = 2, #KEYS do
  out[#out + 1] = redis.call('XRANGE', KEYS[i], '(' .. ARGV[1], last)
end
return out
