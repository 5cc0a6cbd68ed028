//! Async SDK calls from synchronous callers (data sources and template functions, evaluated
//! while a template loads, inside a runtime or not): each runs on a thread and runtime of its
//! own, so no runtime is ever nested in another.

use std::future::Future;

/// Runs the future `make` returns to completion on a new thread with its own single-threaded
/// runtime; `what` names the caller when that thread dies.
pub(crate) fn run<T, M, F>(what: &str, make: M) -> Result<T, String>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future<Output = Result<T, String>>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(make())
    })
    .join()
    .map_err(|_| format!("{what}: the query thread failed"))?
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_outside_and_inside_a_runtime() {
        assert_eq!(super::run("t", || async { Ok::<_, String>(1) }), Ok(1));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Called from async code, as when a template loads inside `forge build`'s runtime.
        let r = rt.block_on(async { super::run("t", || async { Err::<u8, _>("no".to_string()) }) });
        assert_eq!(r, Err("no".to_string()));
    }
}
