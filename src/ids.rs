//! Identifiers: opaque random ids and readable random local parts.

use rand::seq::IndexedRandom;
use rand::Rng;

const ID_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `prefix_` followed by 12 random characters from a lower-case base-32 alphabet (60 bits).
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 13);
    id.push_str(prefix);
    id.push('_');
    for _ in 0..12 {
        id.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char);
    }
    id
}

/// `prefix_` + 9 characters of the current millisecond (45 bits: no wrap for a thousand years)
/// + 7 random characters (35 bits).
///
/// Ids made later sort later, so the store's id index grows at its right edge (see the schema).
pub fn time_ordered_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 17);
    id.push_str(prefix);
    id.push('_');
    let ms = crate::clock::now_ms().max(0) as u64;
    for shift in (0..9).rev() {
        id.push(ID_ALPHABET[((ms >> (shift * 5)) & 31) as usize] as char);
    }
    for _ in 0..7 {
        id.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char);
    }
    id
}

const ADJECTIVES: &[&str] = &[
    "quiet", "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively",
    "merry", "nimble", "proud", "silly", "witty", "zesty", "amber", "bold", "bright", "cosmic",
    "crisp", "dapper", "fuzzy", "golden", "honest", "icy", "lucky", "mellow", "misty", "noble",
    "plucky", "quick", "rapid", "rosy", "rustic", "shy", "sleepy", "snappy", "sunny", "swift",
    "tidy", "vivid", "wild", "wise", "young", "zany", "breezy", "clever", "dreamy", "frosty",
];

const ANIMALS: &[&str] = &[
    "otter", "badger", "beaver", "bison", "camel", "crane", "dingo", "eagle", "ferret", "finch",
    "gecko", "heron", "ibis", "jackal", "koala", "lemur", "llama", "lynx", "marten", "moose",
    "newt", "ocelot", "orca", "panda", "puffin", "quail", "raven", "robin", "salmon", "seal",
    "shrew", "sloth", "stoat", "swan", "tapir", "tiger", "toucan", "trout", "turtle", "viper",
    "walrus", "wombat", "yak", "zebra", "alpaca", "gopher", "hedgehog", "kiwi", "magpie", "owl",
];

/// A readable random local part such as `quiet-otter-4821` (about 23 bits of randomness).
pub fn readable_local_part() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let animal = ANIMALS.choose(&mut rng).copied().unwrap_or("otter");
    format!("{adjective}-{animal}-{:04}", rng.random_range(0..10_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("mbx");
        assert!(id.starts_with("mbx_"));
        assert_eq!(id.len(), 16);
        assert_ne!(new_id("mbx"), new_id("mbx"));
    }

    #[test]
    fn time_ordered_ids_sort_by_creation() {
        let a = time_ordered_id("msg");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = time_ordered_id("msg");
        assert!(a < b, "{a} < {b}");
        assert_eq!(a.len(), 20);
    }

    #[test]
    fn local_parts_are_readable() {
        let lp = readable_local_part();
        let parts: Vec<_> = lp.split('-').collect();
        assert_eq!(parts.len(), 3, "{lp}");
        assert!(parts[2].chars().all(|c| c.is_ascii_digit()));
    }
}
