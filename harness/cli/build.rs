// rstest's #[files] expands at compile time: rebuild the tests when vector files come or go.
fn main() {
    println!("cargo:rerun-if-changed=../../vectors/mediastream");
}
