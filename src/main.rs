//! The app's entry point: mounts the Leptos app (wasm32 only).

#[cfg(target_arch = "wasm32")]
fn main() {
    poslens::web::start_app();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "poslens is a browser app: build and serve it with `scripts/serve.sh` (see README.md)."
    );
}
