fn main() {
    let path = std::env::args().nth(1).expect("file");
    let iut = std::env::args().nth(2).unwrap_or("3way".into());
    let s = handshake_scenario::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let p = handshake_endpoint::mediastream::Profile::parse(&iut).unwrap();
    let o = handshake_scenario::engine::run_reference(&s, &format!("ref:{iut}"), p, 1);
    print!("{}", o.render());
}
