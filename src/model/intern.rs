//! String interning for the values that repeat across millions of spans (service names, span
//! names, fingerprints, URL templates). A span stores 4-byte [`Sym`]s instead of strings.
//!
//! Parsers intern into a chunk-local [`Interner`] so that chunks parse in parallel without a
//! lock; [`Interner::absorb`] merges a chunk's table into the dataset's and returns the remap.

use foldhash::{HashMap, HashMapExt};

/// An interned string. `Sym::EMPTY` is the empty string and stands for "absent".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(u32);

impl Sym {
    /// The empty string.
    pub const EMPTY: Sym = Sym(0);

    /// True for the empty string.
    pub fn is_empty(self) -> bool {
        self == Sym::EMPTY
    }
}

/// A table of distinct strings.
#[derive(Debug, Clone)]
pub struct Interner {
    ids: HashMap<Box<str>, Sym>,
    strings: Vec<Box<str>>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut interner = Interner {
            ids: HashMap::new(),
            strings: Vec::new(),
        };
        interner.intern("");
        interner
    }
}

impl Interner {
    /// The symbol of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.ids.get(s) {
            return sym;
        }
        let sym = Sym(u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct strings"));
        self.strings.push(s.into());
        self.ids.insert(s.into(), sym);
        sym
    }

    /// The string of `sym`.
    pub fn get(&self, sym: Sym) -> &str {
        &self.strings[sym.0 as usize]
    }

    /// Interns every string of `other` and returns, indexed by `other`'s symbols, this
    /// interner's symbols for them.
    pub fn absorb(&mut self, other: &Interner) -> Vec<Sym> {
        other.strings.iter().map(|s| self.intern(s)).collect()
    }

    /// Number of distinct strings, the empty one included.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// True when only the empty string is present.
    pub fn is_empty(&self) -> bool {
        self.strings.len() <= 1
    }
}

/// Rewrites a chunk-local symbol with the remap returned by [`Interner::absorb`].
pub fn remap(sym: Sym, table: &[Sym]) -> Sym {
    table[sym.0 as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorb_maps_equal_strings_to_equal_symbols() {
        let mut global = Interner::default();
        let a = global.intern("api");
        let mut local = Interner::default();
        let db = local.intern("db");
        let api = local.intern("api");
        let table = global.absorb(&local);
        assert_eq!(remap(api, &table), a);
        assert_eq!(global.get(remap(db, &table)), "db");
        assert_eq!(remap(Sym::EMPTY, &table), Sym::EMPTY);
    }
}
