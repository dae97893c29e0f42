#pragma once
// A validated pipeline as a picture: Graphviz dot or Mermaid.
#include <string>

#include "plan.hpp"

namespace tributary::core {

std::string to_dot(const Plan& plan);
std::string to_mermaid(const Plan& plan);

}  // namespace tributary::core
