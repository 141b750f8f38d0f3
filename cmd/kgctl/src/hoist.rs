//! Kilo's kgctl takes its planning flags (`--mesh-granularity`, `--port`, `--topology-label`,
//! and kilo-rs's `--subnet`) before the subcommand (`kgctl --mesh-granularity full graph`), as
//! cobra's persistent flags. This moves them behind the subcommand name when that subcommand
//! has the flag, so clap parses them with the subcommand's own types and defaults; anything
//! else stays where it is (and clap reports it). Pure.

use std::ffi::OsString;

/// The planning flags Kilo users type before the subcommand.
const HOISTED: [&str; 4] = ["mesh-granularity", "port", "topology-label", "subnet"];
/// The top-level flags that take a value (`--kubeconfig X`), so `X` is not a subcommand name.
const TOP_LEVEL_VALUED: [&str; 3] = ["kubeconfig", "context", "master"];

/// The long name of `--name` or `--name=value`, and whether the value is attached.
fn long_name(arg: &str) -> Option<(&str, bool)> {
    let rest = arg.strip_prefix("--")?;
    Some(match rest.split_once('=') {
        Some((name, _)) => (name, true),
        None => (rest, false),
    })
}

/// `args` (program name first) with the hoisted flags given before the subcommand moved right
/// after it, for the subcommands `takes(subcommand, flag)` says have that flag.
pub fn hoist(args: Vec<OsString>, takes: impl Fn(&str, &str) -> bool) -> Vec<OsString> {
    let mut before: Vec<OsString> = Vec::new();
    let mut moved: Vec<(String, Vec<OsString>)> = Vec::new();
    let mut it = args.into_iter();
    before.extend(it.next());
    while let Some(arg) = it.next() {
        let Some(text) = arg.to_str().map(str::to_owned) else {
            before.push(arg);
            continue;
        };
        match long_name(&text) {
            Some((name, attached)) if HOISTED.contains(&name) => {
                let mut group = vec![arg];
                if !attached {
                    group.extend(it.next());
                }
                moved.push((name.to_owned(), group));
            }
            Some((name, false)) if TOP_LEVEL_VALUED.contains(&name) => {
                before.push(arg);
                before.extend(it.next());
            }
            _ if text.starts_with('-') => before.push(arg),
            _ => {
                let sub = text;
                let (kept, stay): (Vec<_>, Vec<_>) =
                    moved.into_iter().partition(|(name, _)| takes(&sub, name));
                before.extend(stay.into_iter().flat_map(|(_, g)| g));
                before.push(arg);
                before.extend(kept.into_iter().flat_map(|(_, g)| g));
                before.extend(it);
                return before;
            }
        }
    }
    before.extend(moved.into_iter().flat_map(|(_, g)| g));
    before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        let takes = |sub: &str, flag: &str| sub != "graph" || flag != "port";
        hoist(args.iter().map(OsString::from).collect(), takes)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn planning_flags_before_the_subcommand_move_behind_it() {
        assert_eq!(
            run(&[
                "kgctl",
                "--mesh-granularity",
                "full",
                "graph",
                "-f",
                "x.yaml"
            ]),
            [
                "kgctl",
                "graph",
                "--mesh-granularity",
                "full",
                "-f",
                "x.yaml"
            ]
        );
        assert_eq!(
            run(&[
                "kgctl",
                "--kubeconfig",
                "graph",
                "--topology-label=zone",
                "--subnet",
                "10.9.0.0/16",
                "status"
            ]),
            [
                "kgctl",
                "--kubeconfig",
                "graph",
                "status",
                "--topology-label=zone",
                "--subnet",
                "10.9.0.0/16"
            ]
        );
    }

    #[test]
    fn flags_a_subcommand_lacks_stay_in_front_and_the_rest_is_untouched() {
        assert_eq!(
            run(&["kgctl", "--port", "51821", "graph"]),
            ["kgctl", "--port", "51821", "graph"]
        );
        assert_eq!(
            run(&["kgctl", "plan", "--port", "1", "--mesh-granularity", "full"]),
            ["kgctl", "plan", "--port", "1", "--mesh-granularity", "full"]
        );
        assert_eq!(run(&["kgctl", "--port"]), ["kgctl", "--port"]);
        assert_eq!(run(&["kgctl"]), ["kgctl"]);
    }
}
