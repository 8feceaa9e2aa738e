//! Links the `dispel4rs` binary (and the tests) so that it finds the libpython it was built
//! against at run time: an rpath to that interpreter's library directory. Without it a
//! Python outside the system's library path (pyenv, a conda or a self-built one) links but
//! fails to start, or — worse — starts against another libpython of the same version.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
