//! Files on a datastore: whether one exists and uploads over HTTPS (the server's `/folder`
//! endpoint, with the session cookie; the file is streamed from disk in 1 MiB chunks, never
//! read into memory), and directories made and files deleted through the `FileManager`.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use forge_core::{Error, Result};
use tokio::io::AsyncRead;

use crate::client::Client;
use crate::find::Datacenter;
use crate::soap::{Moref, Request};
use crate::vm::TASK_TIMEOUT;

/// How long one upload may take at most.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// `[datastore] path`: how vSphere names a datastore file.
pub fn ds_path(datastore: &str, path: &str) -> String {
    format!("[{datastore}] {path}")
}

/// A request body that reads a file as it is sent, with its exact length (so the request
/// carries `Content-Length`, which ESXi requires).
struct FileBody {
    file: tokio::fs::File,
    buf: Vec<u8>,
    left: u64,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = this
            .buf
            .len()
            .min(usize::try_from(this.left).unwrap_or(usize::MAX));
        let mut rb = tokio::io::ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file became shorter while it was uploaded",
                    ))));
                }
                this.left -= n as u64;
                let chunk = Bytes::copy_from_slice(rb.filled());
                Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

/// A byte range of a local file: a whole file, or a member of an OVA (tar) archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePart {
    /// The file.
    pub path: std::path::PathBuf,
    /// Where the range starts.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

impl FilePart {
    /// All of `path`.
    pub async fn whole(path: &Path) -> std::io::Result<FilePart> {
        let len = tokio::fs::metadata(path).await?.len();
        Ok(FilePart {
            path: path.to_path_buf(),
            offset: 0,
            len,
        })
    }
}

impl Client {
    /// The HTTPS URL of `path` on datastore `ds` of `dc`.
    pub fn datastore_url(&self, dc: &Datacenter, ds: &str, path: &str) -> Result<reqwest::Url> {
        let base = self.url().strip_suffix("/sdk").unwrap_or(self.url());
        let mut u = reqwest::Url::parse(&format!("{base}/folder"))
            .map_err(|e| Error::msg(format!("datastore URL from {base}: {e}")))?;
        u.path_segments_mut()
            .map_err(|_| Error::msg(format!("datastore URL from {base}")))?
            .extend(path.split('/').filter(|s| !s.is_empty()));
        u.query_pairs_mut()
            .append_pair("dcPath", dc.path.trim_start_matches('/'))
            .append_pair("dsName", ds);
        Ok(u)
    }

    /// Whether `path` exists on datastore `ds` (one HTTP `HEAD`).
    pub async fn datastore_file_exists(
        &self,
        dc: &Datacenter,
        ds: &str,
        path: &str,
    ) -> Result<bool> {
        let url = self.datastore_url(dc, ds, path)?;
        let (http, cookie) = self.http_session();
        let mut rq = http.head(url);
        if let Some(c) = cookie {
            rq = rq.header("Cookie", c);
        }
        let resp = rq
            .send()
            .await
            .map_err(|e| Error::msg(format!("checking {}: {e}", ds_path(ds, path))))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            s => Err(Error::msg(format!(
                "checking {}: HTTP {s}",
                ds_path(ds, path)
            ))),
        }
    }

    /// Uploads the local file `local` to `path` on datastore `ds`; the bytes sent.
    pub async fn upload_datastore_file(
        &self,
        dc: &Datacenter,
        ds: &str,
        path: &str,
        local: &Path,
    ) -> Result<u64> {
        let what = format!("uploading {} to {}", local.display(), ds_path(ds, path));
        let url = self.datastore_url(dc, ds, path)?;
        let part = FilePart::whole(local)
            .await
            .map_err(|e| Error::msg(format!("{what}: {e}")))?;
        let len = part.len;
        self.send_file(
            reqwest::Method::PUT,
            url,
            &part,
            "application/octet-stream",
            &what,
        )
        .await?;
        Ok(len)
    }

    /// Sends `part` of a local file as the body of a `method` request to `url` with the
    /// session cookie, streamed from disk with its exact `Content-Length`; `what` names the
    /// transfer in errors.
    pub async fn send_file(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        part: &FilePart,
        content_type: &str,
        what: &str,
    ) -> Result<()> {
        use tokio::io::AsyncSeekExt;
        let mut file = tokio::fs::File::open(&part.path)
            .await
            .map_err(|e| Error::msg(format!("{what}: {e}")))?;
        file.seek(std::io::SeekFrom::Start(part.offset))
            .await
            .map_err(|e| Error::msg(format!("{what}: {e}")))?;
        let body = FileBody {
            file,
            buf: vec![0; 1 << 20],
            left: part.len,
        };
        let (http, cookie) = self.http_session();
        let mut rq = http
            .request(method, url)
            .timeout(UPLOAD_TIMEOUT)
            .header("Content-Type", content_type)
            .header("Content-Length", part.len)
            .body(reqwest::Body::wrap(body));
        if let Some(c) = cookie {
            rq = rq.header("Cookie", c);
        }
        let resp = rq
            .send()
            .await
            .map_err(|e| Error::msg(format!("{what}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            let snippet: String = text.chars().take(200).collect();
            return Err(Error::msg(format!(
                "{what}: HTTP {status} {}",
                snippet.trim()
            )));
        }
        Ok(())
    }

    /// Makes the directory `[ds] dir` and its parents; one that exists is not an error.
    pub async fn make_datastore_dir(&self, dc: &Datacenter, ds: &str, dir: &str) -> Result<()> {
        let fm = self.file_manager()?;
        let r = Request::new("MakeDirectory", &fm)
            .text("name", &ds_path(ds, dir))
            .moref("datacenter", &dc.moref)
            .boolean("createParentDirectories", true);
        match self.call(r).await {
            Err(e) if e.to_string().contains("FileAlreadyExists") => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// Deletes `[ds] path` (`name`, as [`ds_path`] writes it); a file already gone is not an
    /// error.
    pub async fn delete_datastore_file(&self, dc: &Moref, name: &str) -> Result<()> {
        let fm = self.file_manager()?;
        let r = Request::new("DeleteDatastoreFile_Task", &fm)
            .text("name", name)
            .moref("datacenter", dc);
        let res = match self.call_task(r).await {
            Ok(task) => self.wait_for_task(&task, TASK_TIMEOUT).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match res {
            Err(e) if e.to_string().contains("FileNotFound") => Ok(()),
            r => r.map_err(|e| Error::msg(format!("deleting {name}: {e}"))),
        }
    }

    fn file_manager(&self) -> Result<Moref> {
        self.content()
            .file_manager
            .clone()
            .ok_or_else(|| Error::msg("the server has no FileManager"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            ds_path("LocalDS_0", "packer_cache/a.iso"),
            "[LocalDS_0] packer_cache/a.iso"
        );
    }
}
