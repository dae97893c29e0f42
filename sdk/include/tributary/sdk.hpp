#pragma once
// Everything a plugin author needs.
#include "tributary/control.hpp"
#include "tributary/node.hpp"
#include "tributary/packet.hpp"
#include "tributary/param.hpp"
#include "tributary/plugin.hpp"
#include "tributary/port.hpp"
#include "tributary/tensor.hpp"
#include "tributary/value.hpp"
#include "tributary/version.hpp"
