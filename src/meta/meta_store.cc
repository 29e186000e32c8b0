#include "meta/meta_store.h"

#include <filesystem>
#include <string_view>

#include "meta/sqlite_store.h"

namespace floe::meta {

std::unique_ptr<MetaStore> open_meta_store(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    // Everything after the scheme is the path: sqlite:///abs/meta.db is
    // absolute, sqlite://rel/meta.db relative to the working directory.
    std::filesystem::path path = url.substr(kSqlite.size());
    if (path.empty() || !path.has_filename())
      throw std::runtime_error("metastore URL " + url + " names no database file");
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) throw std::runtime_error("cannot create " + path.parent_path().string() + ": " + ec.message());
    }
    return std::make_unique<SqliteMetaStore>(path.string());
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://"))
    throw std::runtime_error("PostgreSQL metastores are not supported yet");
  auto colon = url.find("://");
  if (colon == std::string::npos)
    throw std::runtime_error("metastore " + url + " is not a URL (expected sqlite:///path/meta.db)");
  throw std::runtime_error("unknown metastore scheme '" + url.substr(0, colon) + "' in " + url +
                           " (expected sqlite:// or postgresql://)");
}

}  // namespace floe::meta
