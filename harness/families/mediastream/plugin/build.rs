// rstest's #[files] expands at compile time: rebuild the tests when scenario or vector files come or
// go.
fn main() {
    println!("cargo:rerun-if-changed=../../../../vectors/scenarios/mediastream");
    println!("cargo:rerun-if-changed=../../../../vectors/mediastream");
}
