// The sources family: nodes that start streams.
#include "tributary/plugin.hpp"

#include "synthetic/synthetic.hpp"
#include "table/table.hpp"

TRIBUTARY_PLUGIN("sources") {
  registrar.add<tributary::sources::Synthetic>();
  registrar.add<tributary::sources::Table>();
}
