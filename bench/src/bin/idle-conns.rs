//! Opens N HTTP/2 connections over TLS, makes one request on each so that the server has
//! set the connection up completely, then holds them all idle for a while. Used by
//! `bench/throughput.sh` to read a server's RSS with 1,000 idle connections.
//!
//! ```text
//! idle-conns --addr 127.0.0.1:8443 --path /style.css -n 1000 --hold 5
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The server.
    #[arg(long)]
    addr: SocketAddr,
    /// The path requested once per connection.
    #[arg(long, default_value = "/")]
    path: String,
    /// Connections to open.
    #[arg(short, default_value_t = 1000)]
    n: usize,
    /// Seconds to hold them idle once all are open.
    #[arg(long, default_value_t = 5)]
    hold: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = h2push::tls::insecure_client_config(&[b"h2"]);
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut held = Vec::with_capacity(args.n);
    for i in 0..args.n {
        let tcp = tokio::net::TcpStream::connect(args.addr).await?;
        let name = rustls_pki_types::ServerName::try_from("localhost")?;
        let tls = connector.connect(name, tcp).await?;
        let (mut client, conn) = h2::client::handshake(tls).await?;
        let driver = tokio::spawn(conn);
        let req = http::Request::get(format!("https://localhost{}", args.path)).body(())?;
        let (res, _) = client.send_request(req, true)?;
        let mut body = res.await?.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        held.push((client, driver));
        if (i + 1) % 250 == 0 {
            eprintln!("{} connections open", i + 1);
        }
    }
    println!("open {}", held.len());
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    Ok(())
}
