fn main() {
    let p = looms::pier::Pier::new(b"/tmp");
    println!("{:?}", looms::recovery::inspect(&p, &mut |_, _| {}));
}
