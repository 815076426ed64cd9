//! `sqlx::migrate!` embeds the files under `migrations/` (at the workspace root); a new
//! migration file must rebuild this crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
