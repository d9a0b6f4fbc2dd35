//! The analysis Web Worker's entry point (wasm32 only).

#[cfg(target_arch = "wasm32")]
fn main() {
    poslens::web::run_worker();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("This binary is the app's Web Worker; it runs only in the browser.");
}
