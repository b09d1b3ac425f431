//! Full paths built from a listed directory and an entry name.

use crate::ftp::listing::join_path;

#[test]
fn joins_with_exactly_one_slash() {
    assert_eq!(join_path("/incoming", "a.csv"), "/incoming/a.csv");
    assert_eq!(join_path("/incoming/", "a.csv"), "/incoming/a.csv");
    assert_eq!(join_path("/incoming//", "a.csv"), "/incoming/a.csv");
    assert_eq!(join_path("//in//daily/", "a.csv"), "/in/daily/a.csv");
    assert_eq!(join_path("/", "a.csv"), "/a.csv");
    assert_eq!(join_path("", "a.csv"), "a.csv");
    assert_eq!(join_path("in", "a.csv"), "in/a.csv");
    assert_eq!(join_path("/in", "/a.csv"), "/in/a.csv");
    assert_eq!(join_path("/in", ""), "/in");
    // Names keep their spaces and non-ASCII characters.
    assert_eq!(
        join_path("/données/", " rapport été.csv"),
        "/données/ rapport été.csv"
    );
}
