#include "broker/cluster_id.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "protocol/wire.h"

namespace floe::broker {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot fsync " + path + ": " + std::strerror(err));
}

// Write to a temporary name, fsync, rename, fsync the folder: a crash leaves
// either no file or the whole file.
void write_durably(const std::string& dir, const std::string& name, const std::string& text) {
  std::string tmp = dir + "/." + name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  fsync_path(tmp, O_RDONLY);
  std::filesystem::rename(tmp, dir + "/" + name);
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

std::string random_cluster_id() {
  std::random_device rd;
  protocol::Uuid u;
  for (auto& b : u.bytes) b = static_cast<uint8_t>(rd());
  // Version 4, variant 1, as Kafka's Uuid.randomUuid().
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);
  return u.to_string();
}

}  // namespace

std::string load_or_create_cluster_id(const std::string& data_dir, const std::optional<std::string>& configured) {
  std::filesystem::create_directories(data_dir);
  const std::string path = data_dir + "/cluster.id";
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string id;
    std::getline(in, id);
    id = trim(id);
    if (id.empty()) throw std::runtime_error(path + " is empty");
    if (configured && *configured != id) {
      throw std::runtime_error("cluster.id " + *configured + " does not match " + id + " stored in " + path);
    }
    return id;
  }
  std::string id = configured ? *configured : random_cluster_id();
  write_durably(data_dir, "cluster.id", id + "\n");
  return id;
}

}  // namespace floe::broker
