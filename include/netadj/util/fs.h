#pragma once
// File helpers: every result file is written to a temporary name and renamed, so a crash at any
// instant leaves either the old or the new file, never half of one. Every durable step here (a temp file
// complete, a rename, an append, a removal, a link) passes a failpoint (util/failpoint.h) right after it.
#include <nlohmann/json.hpp>
#include <string>

namespace netadj {
/// Writes `content` to `path` atomically (temp file in the same folder, fsync, rename).
/// Throws IoError naming the file on any failure (disk full, permissions).
void write_file_atomic(const std::string& path, const std::string& content);
void write_json_atomic(const std::string& path, const nlohmann::json& j);
/// Reads a whole file; throws DataError("<path>: cannot read ...") when missing.
std::string read_file(const std::string& path);
/// Parses a JSON file; throws DataError naming the file and the parse position.
nlohmann::json read_json(const std::string& path);
/// What a file given where another kind was expected looks like, from its first bytes: "a PyTorch archive
/// (a model, checkpoint or TorchScript file)", "a JSON file", "an empty file", "a text file" or "a binary
/// file"; "" when it cannot be opened.
std::string file_kind(const std::string& path);
/// Up to `n` bytes from the start of a file ("" when it cannot be opened or is empty).
std::string file_head(const std::string& path, size_t n);
/// True when the file starts as a zip archive does (PyTorch's and LibTorch's serialization format).
bool is_zip_archive(const std::string& path);
/// Appends `bytes` and flushes them to disk; throws IoError naming the file (disk full, permissions).
void append_bytes(const std::string& path, const std::string& bytes);
/// Appends one line (e.g. a JSONL record) and flushes it to disk.
void append_line(const std::string& path, const std::string& line);
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);
/// Removes a file or a whole folder tree if present (nftw; LibTorch's exported std::filesystem::remove_all
/// can shadow libstdc++'s and crash, so nothing here uses it).
void remove_tree(const std::string& path);
void remove_file(const std::string& path);
/// Renames `from` to `to` (same file system); IoError naming `to` when it fails.
void rename_file(const std::string& from, const std::string& to);
/// Hard-links `from` as `to`; false when the file system cannot (the caller copies instead).
bool link_file(const std::string& from, const std::string& to);
/// Whether a file name is a temp name of write_file_atomic's ("<file>.tmp.<pid>").
bool is_temp_name(const std::string& name);
/// Removes the temp files under `dir` (recursively) that no live process is writing: those of dead
/// processes (a crash between a temp file and its rename) and of this one. Returns how many went.
int remove_stale_temp_files(const std::string& dir);

}  // namespace netadj
