#pragma once
// Failpoints: a named point at every durable step netadj takes on disk (a temp file complete, a rename, an
// append, a removal, a hard link, a run directory made or locked), as databases test themselves (etcd's gofail,
// SQLite's crash tests). Every such step goes through util/fs (or run_dir.cpp's mkdir and lock), which calls
// failpoint() right after it; so a write cannot lack one, and docs/run-directory.md lists them all.
//
// A point's name is "<step>:<file>": the step (written, renamed, appended, removed, linked, created, locked) and
// the file's name with its folder dropped, digit runs written N and a temp suffix dropped
// ("renamed:search.json", "written:checkpoint.pt", "appended:events.out.tfevents").
//
// In test builds (NETADJ_FAILPOINTS, on with the tests) the environment arms one point:
//   NETADJ_FAILPOINT=<name>[#<hit>]   the point, at its <hit>-th pass in this process (default 1)
//   NETADJ_FAILPOINT_ACTION=kill      SIGKILL there, a crash at that instant (the default)
//                          sleep:<ms> stall there (to widen a race), then go on
//                          enospc     fail that write as a full disk does (at "written" points)
//   NETADJ_FAILPOINT_TRACE=<file>     append every point passed, one name a line (to list a run's points)
// Built without NETADJ_FAILPOINTS, failpoint() does nothing and the environment is not read.
#include <string>

namespace netadj {

/// The failpoint name of `step` on `path` ("renamed", "/runs/x/iter_3/fur.json" -> "renamed:fur.json").
std::string failpoint_name(const std::string& step, const std::string& path);

/// Passes the point `step` on `path`. Returns an errno value to fail the step with (ENOSPC when armed with
/// enospc), else 0; does not return when armed with kill.
int failpoint(const std::string& step, const std::string& path);

}  // namespace netadj
