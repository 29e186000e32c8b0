// The broker's entry point, called by `floe serve` once the configuration is
// parsed and logging is set up. Implemented by the broker's start-up code.
#pragma once

#include "broker/config.h"

namespace floe::broker { int run_broker(const Config& config); }
