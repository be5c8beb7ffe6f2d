//! The `ringway` command. So far it only prints the ABI it speaks; the
//! subcommands (bench, create, info, ls, rm, cat) come with the CLI work.

fn main() {
    println!("ringway ABI {}", ringway::layout::ABI_VERSION);
}
