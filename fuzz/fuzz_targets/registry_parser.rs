//! The registry loader (YAML and JSON) and its validation on arbitrary text:
//! no panic, no unbounded memory (alias bombs are refused by the YAML
//! parser's budget), and a registry that loads either validates or lists its
//! problems.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::registry::Registry;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data.get(1..).unwrap_or_default()) else {
        return;
    };
    let loaded = if data.first().is_some_and(|b| b & 1 == 1) {
        Registry::from_json_str(text)
    } else {
        Registry::from_yaml_str(text)
    };
    if let Ok(registry) = loaded {
        if let Err(problems) = registry.validate() {
            assert!(!problems.is_empty());
        }
    }
});
