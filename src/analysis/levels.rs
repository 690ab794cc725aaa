//! Load levels: which traces belong to which period or run at one offered load. A trace belongs
//! to the level of the input its root span came from (`--level NAME=PATH`, one input per level),
//! or every trace to one level `all`. Each level then gets its own latency table, bottleneck
//! ranking and findings.

use crate::ingest::ledger::InputLedger;
use std::path::Path;

/// How traces are split into levels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Levels {
    /// One level, `all`.
    #[default]
    None,
    /// By the input file of each trace's root span.
    ByInput {
        /// Level names, in the order given.
        names: Vec<String>,
        /// The level of each input (by its index in the dataset), None for an input in no
        /// level.
        of_input: Vec<Option<u32>>,
    },
}

impl Levels {
    /// Levels from `(name, path)` pairs, each path a file or a folder holding inputs: an input
    /// belongs to the level whose path is the input itself or a folder above it. The same name
    /// may be given several paths. An input under the paths of two levels is an error, and so
    /// is a path under which no input was read.
    pub fn by_path(levels: &[(String, &Path)], inputs: &[InputLedger]) -> Result<Levels, String> {
        let mut names: Vec<String> = Vec::new();
        let mut of_path = Vec::with_capacity(levels.len());
        for (name, _) in levels {
            let index = match names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    names.push(name.clone());
                    names.len() - 1
                }
            };
            of_path.push(index as u32);
        }
        let mut of_input = vec![None; inputs.len()];
        let mut used = vec![false; levels.len()];
        for (slot, input) in of_input.iter_mut().zip(inputs) {
            let file = Path::new(&input.path);
            for (i, (_, path)) in levels.iter().enumerate() {
                if !file.starts_with(path) {
                    continue;
                }
                used[i] = true;
                match *slot {
                    Some(other) if other != of_path[i] => {
                        return Err(format!(
                            "{} is in two levels, {} and {}",
                            input.path, names[other as usize], names[of_path[i] as usize]
                        ));
                    }
                    _ => *slot = Some(of_path[i]),
                }
            }
        }
        if let Some(i) = used.iter().position(|u| !u) {
            return Err(format!(
                "level {}: no input was read from {}",
                levels[i].0,
                levels[i].1.display()
            ));
        }
        Ok(Levels::ByInput { names, of_input })
    }

    /// The level names, in report order.
    pub fn names(&self) -> Vec<String> {
        match self {
            Levels::None => vec!["all".to_string()],
            Levels::ByInput { names, .. } => names.clone(),
        }
    }

    /// The level of a trace whose root span came from input `input`.
    pub fn of_root_input(&self, input: u32) -> Option<u32> {
        match self {
            Levels::None => Some(0),
            Levels::ByInput { of_input, .. } => of_input.get(input as usize).copied().flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(paths: &[&str]) -> Vec<InputLedger> {
        paths
            .iter()
            .map(|p| InputLedger {
                path: p.to_string(),
                ..InputLedger::default()
            })
            .collect()
    }

    #[test]
    fn inputs_go_to_the_level_of_their_file_or_folder() {
        let inputs = inputs(&[
            "run/low/a.jsonl",
            "run/low/b.jsonl",
            "run/high.jsonl",
            "other.jsonl",
        ]);
        let levels = [
            ("50rps".to_string(), Path::new("run/low")),
            ("100rps".to_string(), Path::new("run/high.jsonl")),
        ];
        let l = Levels::by_path(&levels, &inputs).unwrap();
        assert_eq!(l.names(), ["50rps", "100rps"]);
        assert_eq!(
            (0..4).map(|i| l.of_root_input(i)).collect::<Vec<_>>(),
            [Some(0), Some(0), Some(1), None]
        );
        assert_eq!(Levels::None.of_root_input(3), Some(0));
    }

    #[test]
    fn one_name_may_have_several_paths_but_an_input_only_one_level() {
        let inputs = inputs(&["a.jsonl", "b.jsonl"]);
        let same = [
            ("x".to_string(), Path::new("a.jsonl")),
            ("x".to_string(), Path::new("b.jsonl")),
        ];
        assert_eq!(Levels::by_path(&same, &inputs).unwrap().names(), ["x"]);
        let overlap = [
            ("x".to_string(), Path::new("a.jsonl")),
            ("y".to_string(), Path::new("a.jsonl")),
        ];
        assert_eq!(
            Levels::by_path(&overlap, &inputs).unwrap_err(),
            "a.jsonl is in two levels, x and y"
        );
        let unused = [("z".to_string(), Path::new("c.jsonl"))];
        assert_eq!(
            Levels::by_path(&unused, &inputs).unwrap_err(),
            "level z: no input was read from c.jsonl"
        );
    }
}
