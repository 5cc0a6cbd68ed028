//! `ssh_local_tunnels`: a local port whose connections go, through the SSH connection, to a
//! host and port as the machine sees them. (Remote tunnels are served by the client handler.)

use std::sync::Arc;

use forge_core::{Error, Result};
use tokio::net::TcpListener;

use super::client::Conn;
use super::config::Tunnel;

/// Listens on `127.0.0.1:<listen_port>` and forwards every connection.
pub async fn local(conn: Arc<Conn>, t: Tunnel) -> Result<tokio::task::JoinHandle<()>> {
    let l = TcpListener::bind(("127.0.0.1", t.listen_port))
        .await
        .map_err(|e| {
            Error::msg(format!(
                "ssh_local_tunnels: cannot listen on 127.0.0.1:{}: {e}",
                t.listen_port
            ))
        })?;
    Ok(tokio::spawn(async move {
        while let Ok((mut sock, peer)) = l.accept().await {
            let conn = conn.clone();
            let t = t.clone();
            tokio::spawn(async move {
                match conn
                    .handle
                    .channel_open_direct_tcpip(
                        t.host.clone(),
                        t.port.into(),
                        peer.ip().to_string(),
                        peer.port().into(),
                    )
                    .await
                {
                    Ok(ch) => {
                        let mut remote = ch.into_stream();
                        let _ = tokio::io::copy_bidirectional(&mut sock, &mut remote).await;
                    }
                    Err(e) => tracing::warn!("local tunnel to {}:{}: {e}", t.host, t.port),
                }
            });
        }
    }))
}
