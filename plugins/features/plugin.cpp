#include "tributary/plugin.hpp"

#include "identity/identity.hpp"
#include "standardize/standardize.hpp"

TRIBUTARY_PLUGIN("features") {
  registrar.add<tributary::features::Identity>();
  registrar.add<tributary::features::Standardize>();
}
