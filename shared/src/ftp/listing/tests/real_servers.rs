//! Listing lines produced by real servers, each set with where it was found.
//! `now` is 2026-11-21T12:00Z and the server zone UTC unless a test says
//! otherwise, so `Mon DD HH:MM` lines land in 2026 (or 2025 when later than
//! tomorrow).

use chrono_tz::Tz;

use super::{assert_entry, link, utc};
use crate::ftp::listing::{
    EntryKind::{Dir, File},
    ListingStyle, Precision, Skip, parse_list_line, parse_listing, parse_mlsd_line,
};

const NOW: &str = "2026-11-21T12:00:00Z";

fn list(line: &str) -> crate::ftp::listing::ListEntry {
    parse_list_line(line, utc(NOW), Tz::UTC).unwrap()
}

fn mlsd(line: &str) -> crate::ftp::listing::ListEntry {
    parse_mlsd_line(line).unwrap()
}

#[test]
fn vsftpd_list() {
    // tributary TESTING.md, "FTP servers" (vsftpd, one file).
    let e = list("-rw-r--r--    1 1001     1001            6 Mar 05  2024 small.txt");
    assert_entry(
        &e,
        "small.txt",
        File,
        Some(6),
        Some("2024-03-05T00:00:00Z"),
        Precision::Day,
    );
    // iterate-ch/cyberduck ftp/src/test/.../parser/vsFTPdEntryParserTest.java (#5437).
    let e = list("-rw-r--r--    1 3642     3643          106 Nov 15 22:20 index.html");
    assert_entry(
        &e,
        "index.html",
        File,
        Some(106),
        Some("2026-11-15T22:20:00Z"),
        Precision::Minute,
    );
}

#[test]
fn libunftp_list() {
    // tributary TESTING.md, "FTP servers" (libunftp 0.24, embedded in our tests).
    // 18:54 today is later than 12:00 now but within the one-day tolerance.
    let e =
        list("-rw-r--r--            1            0            0              8 Nov 21 18:54 a.csv");
    assert_entry(
        &e,
        "a.csv",
        File,
        Some(8),
        Some("2026-11-21T18:54:00Z"),
        Precision::Minute,
    );
}

#[test]
fn proftpd_list() {
    // Formatted exactly as proftpd/proftpd modules/mod_ls.c listfile() does:
    // "%s %3d %-8s %-8s %s %s %2d %s %s" (size field "%8llu" style, time "%02d:%02d"
    // or year "%5d"); checked against that format string here.
    let recent = format!(
        "{} {:>3} {:<8} {:<8} {:>8} {} {:>2} {} {}",
        "-rw-r--r--", 1, "ftpuser", "ftpgroup", 2048, "Mar", 5, "12:00", "report 2026.csv"
    );
    assert_eq!(
        recent,
        "-rw-r--r--   1 ftpuser  ftpgroup     2048 Mar  5 12:00 report 2026.csv"
    );
    let e = list(&recent);
    assert_entry(
        &e,
        "report 2026.csv",
        File,
        Some(2048),
        Some("2026-03-05T12:00:00Z"),
        Precision::Minute,
    );
    let old = format!(
        "{} {:>3} {:<8} {:<8} {:>8} {} {:>2} {:>5} {}",
        "drwxr-xr-x", 2, "ftpuser", "ftpgroup", 4096, "Jan", 9, 2019, "archive"
    );
    let e = list(&old);
    assert_entry(
        &e,
        "archive",
        Dir,
        None,
        Some("2019-01-09T00:00:00Z"),
        Precision::Day,
    );
}

#[test]
fn proftpd_mlsd() {
    // ProFTPD mod_facts order (modify;perm;size;type;unique;UNIX.group;UNIX.mode;UNIX.owner),
    // from jlaffaye/ftp parse_test.go "RFC3659 format".
    let cdir = "modify=20150813224845;perm=fle;type=cdir;unique=119FBB87U4;UNIX.group=0;UNIX.mode=0755;UNIX.owner=0; .";
    let pdir = "modify=20150813224845;perm=fle;type=pdir;unique=119FBB87U4;UNIX.group=0;UNIX.mode=0755;UNIX.owner=0; ..";
    assert_eq!(parse_mlsd_line(cdir), Err(Skip::SelfOrParent));
    assert_eq!(parse_mlsd_line(pdir), Err(Skip::SelfOrParent));
    let e = mlsd(
        "modify=20150806235817;perm=fle;type=dir;unique=1B20F360U4;UNIX.group=0;UNIX.mode=0755;UNIX.owner=0; movies",
    );
    assert_entry(
        &e,
        "movies",
        Dir,
        None,
        Some("2015-08-06T23:58:17Z"),
        Precision::Second,
    );
    let e = mlsd(
        "modify=20150813175250;perm=adfr;size=951;type=file;unique=119FBB87UE;UNIX.group=0;UNIX.mode=0644;UNIX.owner=0; welcome.msg",
    );
    assert_entry(
        &e,
        "welcome.msg",
        File,
        Some(951),
        Some("2015-08-13T17:52:50Z"),
        Precision::Second,
    );
    // Same line with capitalised fact names.
    let e = mlsd(
        "Modify=20150813175250;Perm=adfr;Size=951;Type=file;Unique=119FBB87UE;UNIX.group=0;UNIX.mode=0644;UNIX.owner=0; welcome.msg",
    );
    assert_entry(
        &e,
        "welcome.msg",
        File,
        Some(951),
        Some("2015-08-13T17:52:50Z"),
        Precision::Second,
    );
}

#[test]
fn pure_ftpd_list() {
    // Formatted exactly as Pure-FTPd src/ls.c listfile() does:
    // "%s %4u %s %s %10llu %s %2d %s %s", owner/group "%-10.10s", year "%5d".
    let old = format!(
        "{} {:>4} {:<10} {:<10} {:>10} {} {:>2} {:>5} {}",
        "-rw-r--r--", 1, "1001", "1001", 6, "Mar", 5, 2024, "small.txt"
    );
    assert_eq!(
        old,
        "-rw-r--r--    1 1001       1001                6 Mar  5  2024 small.txt"
    );
    let e = list(&old);
    assert_entry(
        &e,
        "small.txt",
        File,
        Some(6),
        Some("2024-03-05T00:00:00Z"),
        Precision::Day,
    );
    // Symlinks get " -> target" appended.
    let link_line = format!(
        "{} {:>4} {:<10} {:<10} {:>10} {} {:>2} {} {} -> {}",
        "lrwxrwxrwx", 1, "1001", "1001", 10, "Nov", 20, "09:15", "latest.csv", "2026/a.csv"
    );
    let e = list(&link_line);
    assert_entry(
        &e,
        "latest.csv",
        link("2026/a.csv"),
        None,
        Some("2026-11-20T09:15:00Z"),
        Precision::Minute,
    );
}

#[test]
fn pure_ftpd_mlsd() {
    // tributary TESTING.md, "FTP servers" (pure-ftpd MLSD, one file).
    let e = mlsd(
        "type=file;size=6;modify=20240305060708;UNIX.mode=0644;UNIX.uid=1001;UNIX.gid=1001;unique=fe00g9aa211; small.txt",
    );
    assert_entry(
        &e,
        "small.txt",
        File,
        Some(6),
        Some("2024-03-05T06:07:08Z"),
        Precision::Second,
    );
    // Pure-FTPd fact layout, from iterate-ch/cyberduck FTPMlsdListResponseReaderTest
    // (#8053): a symlink whose target the server does not give.
    let e = mlsd(
        "type=OS.unix=slink:;size=11;modify=20190522005707;UNIX.mode=0777;UNIX.uid=1677;UNIX.gid=1676;unique=841g5e0003; www",
    );
    assert_entry(
        &e,
        "www",
        link(""),
        None,
        Some("2019-05-22T00:57:07Z"),
        Precision::Second,
    );
}

#[test]
fn filezilla_server_list() {
    // iterate-ch/cyberduck ftp/src/test/.../parser/FilezillaFTPEntryParserTest.java
    // (#3119, "UNIX emulated by FileZilla").
    let e = list("-rw-r--r-- 1 ftp ftp         100847 Sep 10  2004 octfront2.jpg");
    assert_entry(
        &e,
        "octfront2.jpg",
        File,
        Some(100847),
        Some("2004-09-10T00:00:00Z"),
        Precision::Day,
    );
}

#[test]
fn iis_dos_list() {
    // jlaffaye/ftp parse_test.go "DOS DIR command output".
    let e = list("08-07-15  07:50PM                  718 Post_PRR_20150901_1166_265118_13049.dat");
    assert_entry(
        &e,
        "Post_PRR_20150901_1166_265118_13049.dat",
        File,
        Some(718),
        Some("2015-08-07T19:50:00Z"),
        Precision::Minute,
    );
    let e = list("08-10-15  02:04PM       <DIR>          Billing");
    assert_entry(
        &e,
        "Billing",
        Dir,
        None,
        Some("2015-08-10T14:04:00Z"),
        Precision::Minute,
    );
    // apache/commons-net NTFTPEntryParserTest: 4-digit year, 24-hour clock
    // (Windows CE), names with spaces, sizes over 4 GiB.
    let e = list("05-26-1995  10:57AM               143712 $LDR$");
    assert_entry(
        &e,
        "$LDR$",
        File,
        Some(143712),
        Some("1995-05-26T10:57:00Z"),
        Precision::Minute,
    );
    let e = list("12-05-96  17:03         <DIR>          absoft2");
    assert_entry(
        &e,
        "absoft2",
        Dir,
        None,
        Some("1996-12-05T17:03:00Z"),
        Precision::Minute,
    );
    let e = list("09-13-10  13:08                   23 Control Panel.lnk");
    assert_entry(
        &e,
        "Control Panel.lnk",
        File,
        Some(23),
        Some("2010-09-13T13:08:00Z"),
        Precision::Minute,
    );
    let e = list("09-13-10  13:08       <DIR>          My Documents");
    assert_entry(
        &e,
        "My Documents",
        Dir,
        None,
        Some("2010-09-13T13:08:00Z"),
        Precision::Minute,
    );
    let e = list("05-22-97  12:08AM                  5000000000 10 years and under");
    assert_entry(
        &e,
        "10 years and under",
        File,
        Some(5_000_000_000),
        Some("1997-05-22T00:08:00Z"),
        Precision::Minute,
    );
    // First line of the IIS byte trace in the same test (testNET516): `<DIR>`
    // is followed by exactly ten spaces.
    let e = list("09-04-13  05:51PM       <DIR>          aspnet_client");
    assert_entry(
        &e,
        "aspnet_client",
        Dir,
        None,
        Some("2013-09-04T17:51:00Z"),
        Precision::Minute,
    );
    // iterate-ch/cyberduck MicrosoftFTPEntryParserTest (#3701, "Windows_NT version 5.0").
    let e = list("12-04-06  12:43PM                65335 fon1.kucuk.jpg");
    assert_entry(
        &e,
        "fon1.kucuk.jpg",
        File,
        Some(65335),
        Some("2006-12-04T12:43:00Z"),
        Precision::Minute,
    );
    // apache/commons-net NTFTPEntryParserTest bad sample: month 20.
    assert_eq!(
        parse_list_line(
            "20-05-97  03:31PM                  681 .bash_history",
            utc(NOW),
            Tz::UTC
        ),
        Err(Skip::InvalidDate)
    );
}

#[test]
fn iis_unix_style_list() {
    // jlaffaye/ftp parse_test.go "Microsoft's FTP servers for Windows".
    let e = list("----------   1 owner    group         1803128 Jul 10 10:18 ls-lR.Z");
    assert_entry(
        &e,
        "ls-lR.Z",
        File,
        Some(1803128),
        Some("2026-07-10T10:18:00Z"),
        Precision::Minute,
    );
    let e = list("d---------   1 owner    group               0 Nov  9 19:45 Softlib");
    assert_entry(
        &e,
        "Softlib",
        Dir,
        None,
        Some("2026-11-09T19:45:00Z"),
        Precision::Minute,
    );
    // apache/commons-net NTFTPEntryParserTest: a group name with a space, and an
    // hour without its leading zero.
    let e = list("drwx------ 4 maxm Domain Users 512 Oct 2 10:59 .metadata");
    assert_entry(
        &e,
        ".metadata",
        Dir,
        None,
        Some("2026-10-02T10:59:00Z"),
        Precision::Minute,
    );
    let e = list("-rw-rw-r--   1 mqm        mqm          17707 Mar 12  3:33 killmq.sh.log");
    assert_entry(
        &e,
        "killmq.sh.log",
        File,
        Some(17707),
        Some("2026-03-12T03:33:00Z"),
        Precision::Minute,
    );
}

#[test]
fn unix_variants_names_and_links() {
    // jlaffaye/ftp parse_test.go: symlinks, names with spaces (leading and
    // trailing ones kept), no link count or group, u64::MAX sizes, ACL marker.
    let e = list("lrwxrwxrwx   1 root     other          7 Jan 25 00:17 bin -> usr/bin");
    assert_entry(
        &e,
        "bin",
        link("usr/bin"),
        None,
        Some("2026-01-25T00:17:00Z"),
        Precision::Minute,
    );
    let e = list(
        "lrwxrwxrwx    1 0        1001           27 Jul 07  2017 R-3.4.0.pkg -> el-capitan/base/R-3.4.0.pkg",
    );
    assert_entry(
        &e,
        "R-3.4.0.pkg",
        link("el-capitan/base/R-3.4.0.pkg"),
        None,
        Some("2017-07-07T00:00:00Z"),
        Precision::Day,
    );
    let e = list("drwxr-xr-x    3 110      1002            3 Dec 02  2009 spaces   dir   name");
    assert_entry(
        &e,
        "spaces   dir   name",
        Dir,
        None,
        Some("2009-12-02T00:00:00Z"),
        Precision::Day,
    );
    let e = list("-rwxr-xr-x    3 110      1002            1234567 Dec 02  2009  foo bar ");
    assert_entry(
        &e,
        " foo bar ",
        File,
        Some(1234567),
        Some("2009-12-02T00:00:00Z"),
        Precision::Day,
    );
    let e = list("drwxr-xr-x               folder        0 Aug 15 05:49 !!!-Tipp des Haus!");
    assert_entry(
        &e,
        "!!!-Tipp des Haus!",
        Dir,
        None,
        Some("2026-08-15T05:49:00Z"),
        Precision::Minute,
    );
    let e = list(
        "-rw-r--r--        0   18446744073709551615 18446744073709551615 Nov 16  2006 VIDEO_TS.VOB",
    );
    assert_entry(
        &e,
        "VIDEO_TS.VOB",
        File,
        Some(u64::MAX),
        Some("2006-11-16T00:00:00Z"),
        Precision::Day,
    );
    let e = list("-rwxrw-r--+  1 521      101         2080 May 21 10:53 data.csv");
    assert_entry(
        &e,
        "data.csv",
        File,
        Some(2080),
        Some("2026-05-21T10:53:00Z"),
        Precision::Minute,
    );
    // iterate-ch/cyberduck FTPListResponseReaderTest (MD-1766): owner only, no
    // group, and a symlink shown without its target.
    let e = list("lrwxrwxrwx 1 sss 7 Nov 2 2015 bin");
    assert_entry(
        &e,
        "bin",
        link(""),
        None,
        Some("2015-11-02T00:00:00Z"),
        Precision::Day,
    );
    // veeso/suppaftp list.rs tests and twisted test_ftp test_LISTUnicode: non-ASCII
    // owner and names.
    let e = list("-rw-rw-r-- 1 омар  www-data  8192 Nov 5 2018 фообар.txt");
    assert_entry(
        &e,
        "фообар.txt",
        File,
        Some(8192),
        Some("2018-11-05T00:00:00Z"),
        Precision::Day,
    );
    let e = list("drwxrwxrwx   0 user      group                   0 Jan 01  1970 my resumé");
    assert_entry(
        &e,
        "my resumé",
        Dir,
        None,
        Some("1970-01-01T00:00:00Z"),
        Precision::Day,
    );
    // mozilla netwerk test (bug 464884): two blanks before the name, so it starts with one.
    let e = list("-rw-rw-r--    1 500      500             0 Jan 01  2000  file2");
    assert_entry(
        &e,
        " file2",
        File,
        Some(0),
        Some("2000-01-01T00:00:00Z"),
        Precision::Day,
    );
}

#[test]
fn lines_real_parsers_reject() {
    // jlaffaye/ftp parse_test.go listTestsFail, apache/commons-net bad samples.
    let now = utc(NOW);
    let cases = [
        (
            "d [R----F--] supervisor            512       Jan 16 18:53 login",
            Skip::Unrecognised,
        ),
        (
            "- [R----F--] rhesus             214059       Oct 20 15:27 cx.exe",
            Skip::Unrecognised,
        ),
        (
            "drwxr-xr-x    3 110      1002            3 Dec 02  209 pub",
            Skip::Unrecognised,
        ),
        (
            "Zrwxrwxrwx   1 root     other          7 Jan 25 00:17 bin -> usr/bin",
            Skip::Unrecognised,
        ),
        ("total 1", Skip::Total),
        ("000000000x ", Skip::Unrecognised),
        ("", Skip::Blank),
        (
            "drwxr-xr-x   2 root     99           4096Feb 23 30:01 zzplayer",
            Skip::Unrecognised,
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(parse_list_line(line, now, Tz::UTC), Err(reason), "{line:?}");
    }
}

#[test]
fn mlsd_variants() {
    // apache/commons-net MLSxEntryParserTest: fractional seconds, no facts, bad facts.
    let e = mlsd("Type=dir;Modify=20141022065102.999;UNIX.mode=0775; source");
    assert_entry(
        &e,
        "source",
        Dir,
        None,
        Some("2014-10-22T06:51:02Z"),
        Precision::Second,
    );
    let e = mlsd("Type=file;Size=431;Modify=20130303210732;UNIX.mode=0664; HEADER.html");
    assert_entry(
        &e,
        "HEADER.html",
        File,
        Some(431),
        Some("2013-03-03T21:07:32Z"),
        Precision::Second,
    );
    let rejected = [
        (
            "Type=cdir;Modify=20141022065101;UNIX.mode=0775;/no/space",
            Skip::Unrecognised,
        ),
        ("Type=dir;Size; missing =size", Skip::MlsdBadFact),
        ("Type=dir missing-semicolon", Skip::MlsdBadFact),
        ("Modify=2014; Short stamp", Skip::InvalidDate),
        (
            "Type=dir;Modify=2014102206510x2.999;UNIX.mode=0775; modify has spurious chars",
            Skip::InvalidDate,
        ),
        (" /no/facts", Skip::MlsdNoFacts),
        ("Type=; /empty/fact", Skip::Special),
        (
            "Type=cdir;Modify=20141022065102;UNIX.mode=0775; /commons/net",
            Skip::SelfOrParent,
        ),
    ];
    for (line, reason) in rejected {
        assert_eq!(parse_mlsd_line(line), Err(reason), "{line:?}");
    }
    // iterate-ch/cyberduck FTPMlsdListResponseReaderTest: leading space in a
    // name, symlink target, an indented line, `.`/`..`, a slash in a name.
    let e = mlsd("Type=file;Perm=r;Unique=keVO1+IH4;  leading space");
    assert_entry(&e, " leading space", File, None, None, Precision::Second);
    let e = mlsd("Type=OS.unix=slink:/foobar;Perm=;Unique=keVO1+4G4; foobar");
    assert_entry(&e, "foobar", link("/foobar"), None, None, Precision::Second);
    let e = mlsd("     Type=file;Size=38955938;Modify=20230328150158.830; IMG_2625–JK.psd");
    assert_entry(
        &e,
        "IMG_2625–JK.psd",
        File,
        Some(38955938),
        Some("2023-03-28T15:01:58Z"),
        Precision::Second,
    );
    let e = mlsd("Type=dir;Modify=19990112033045; text");
    assert_entry(
        &e,
        "text",
        Dir,
        None,
        Some("1999-01-12T03:30:45Z"),
        Precision::Second,
    );
    assert_eq!(
        parse_mlsd_line(
            "type=dir;size=512;modify=20150115041252;create=20150115041212;perm=cdeflmp; ."
        ),
        Err(Skip::SelfOrParent)
    );
    assert_eq!(
        parse_mlsd_line("Type=pdir;Unique=aaaaacUYqaaa;Perm=cpmel; /"),
        Err(Skip::SelfOrParent)
    );
    assert_eq!(
        parse_mlsd_line("type=dir;modify=20140315210350; Gozo 2013/2014"),
        Err(Skip::NameHasSlash)
    );
}

#[test]
fn whole_mlsd_listing_from_pure_ftpd() {
    // A pure-ftpd MLSD reply for a directory with one file: TESTING.md says
    // pure-ftpd returns `.` and `..` in MLSD; those two lines are shaped like its
    // file line (`sizd` is the RFC 3659 directory size fact). CRLF endings kept.
    let lines = [
        "type=cdir;sizd=4096;modify=20240305060000;UNIX.mode=0755;UNIX.uid=1001;UNIX.gid=1001;unique=fe00g9aa1fd; .\r\n",
        "type=pdir;sizd=4096;modify=20240301000000;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=fe00g2; ..\r\n",
        "type=file;size=6;modify=20240305060708;UNIX.mode=0644;UNIX.uid=1001;UNIX.gid=1001;unique=fe00g9aa211; small.txt\r\n",
    ];
    let listing = parse_listing(lines, ListingStyle::Mlsd, utc(NOW), Tz::UTC);
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.ignored, 2);
    assert!(listing.skipped.is_empty());
    assert_entry(
        &listing.entries[0],
        "small.txt",
        File,
        Some(6),
        Some("2024-03-05T06:07:08Z"),
        Precision::Second,
    );
    assert!(!listing.entries[0].raw.ends_with('\n'));
}
