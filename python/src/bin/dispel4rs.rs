use pyo3::prelude::*;
fn main() {
    Python::initialize();
    Python::attach(|py| {
        let sys = py.import("sys").unwrap();
        let v: String = sys.getattr("version").unwrap().extract().unwrap();
        println!("{v}");
        let p: Vec<String> = sys.getattr("path").unwrap().extract().unwrap();
        println!("{p:?}");
        println!("{:?}", sys.getattr("prefix").unwrap().to_string());
    });
}
