fn main() {
    eprintln!("mailiy-desktop is not built yet; run `mailiy serve`.");
    std::process::exit(2);
}
