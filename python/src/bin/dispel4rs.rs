//! The `dispel4rs` command: runs dispel4py graph modules on the dispel4rs runtime. See
//! `dispel4rs_python::command`.

fn main() {
    let code =
        dispel4rs_python::command::run(dispel4rs_python::Registry::with_builtins(), std::env::args_os());
    std::process::exit(code)
}
