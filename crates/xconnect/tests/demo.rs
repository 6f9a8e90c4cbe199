//! `xconnect demo --check`: the newcomer's first command builds its namespaces, brings a
//! connection up through a server and four gateways, sends traffic across, and removes
//! everything. Needs root, iproute2, ping and traceroute (`.ci/run` installs them).

use std::process::Command;

#[test]
fn the_demo_runs_end_to_end_and_cleans_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["demo", "--check"])
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("demo check passed"), "{stdout}");
    assert!(stdout.contains("3 received"), "{stdout}");
    assert_eq!(
        stdout.matches(": up").count() + stdout.matches(": down").count(),
        4,
        "four links are planned over the two facilities: {stdout}"
    );
    let left = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    )
    .into_owned();
    assert!(!left.contains("xcdemo-"), "namespaces left behind: {left}");
}
