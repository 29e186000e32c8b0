// The `floe` executable: parses the command line and the configuration, sets
// up logging, and hands over to the broker.
//
// Exit codes: 0 success, 1 the broker failed, 2 a usage or configuration
// error (reported as "floe: <message>" on stderr).
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.h"
#include "broker/run.h"
#include "common/log.h"

#ifndef FLOE_VERSION
#error "FLOE_VERSION must be defined by the build (see CMakeLists.txt)"
#endif

namespace {

constexpr int kExitUsage = 2;

constexpr std::string_view kCommands =
    "floe: a Kafka-compatible streaming broker that keeps its data in object storage\n"
    "\n"
    "Usage:\n"
    "  floe serve [--config FILE] [--data-dir DIR] [--KEY=VALUE ...]   run a broker\n"
    "  floe help                                                       show full help\n"
    "  floe --version                                                  print the version\n";

int usage_error(std::string_view message) {
  std::cerr << "floe: " << message << "\n\n" << kCommands;
  return kExitUsage;
}

void print_help() { std::cout << kCommands << '\n' << floe::broker::serve_usage(); }

int serve(std::span<const std::string_view> args) {
  namespace broker = floe::broker;
  broker::Config config;
  try {
    broker::ServeArgs parsed = broker::parse_serve_args(args);
    if (parsed.help) {
      std::cout << broker::serve_usage();
      return 0;
    }
    config = broker::load_config(parsed);
  } catch (const broker::ConfigError& e) {
    std::cerr << "floe: " << e.what()
              << "\n(run 'floe serve --help' for the options and configuration keys)\n";
    return kExitUsage;
  }

  floe::log::set_level(config.log_level);
  for (const std::string& warning : config.warnings) FLOE_LOG(warn, "config") << warning;
  FLOE_LOG(info, "main") << "floe " << FLOE_VERSION << " starting, node.id " << config.node_id;
  if (floe::log::enabled(floe::LogLevel::debug)) {
    for (const auto& [name, value] : config.values) {
      const broker::ConfigKey* key = broker::find_config_key(name);
      std::string_view text = !value.value         ? "(unset)"
                              : key && key->sensitive ? "(hidden)"
                                                      : std::string_view(*value.value);
      FLOE_LOG(debug, "config") << name << "=" << text << " (" << broker::to_string(value.source)
                                << ")";
    }
  }

  // The top of the process: anything that escapes the broker is fatal.
  try {
    return broker::run_broker(config);
  } catch (const std::exception& e) {
    FLOE_LOG(error, "main") << "fatal: " << e.what();
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("no command given");

  std::string_view command = args[0];
  std::span<const std::string_view> rest = std::span(args).subspan(1);
  if (command == "serve") return serve(rest);
  if (command == "help" || command == "--help" || command == "-h") {
    print_help();
    return 0;
  }
  if (command == "--version" || command == "version") {
    std::cout << "floe " << FLOE_VERSION << '\n';
    return 0;
  }
  return usage_error("unknown command '" + std::string(command) + "'");
}
