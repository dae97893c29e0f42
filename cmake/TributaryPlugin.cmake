# tributary_add_plugin(<target> SOURCES <files...> [LINK <libs...>] [OUTPUT_DIR <dir>])
# Builds a plugin library the runtime can load: a shared library linked against Tributary::sdk,
# with only the plugin's info symbol and the C++ runtime it needs visible.
function(tributary_add_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LINK" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Tributary::sdk ${ARG_LINK})
  # Only the plugin info symbol needs to be seen by the runtime.
  set_target_properties(${target} PROPERTIES PREFIX "lib" CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  elseif(DEFINED TRIBUTARY_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${TRIBUTARY_PLUGIN_OUTPUT_DIR})
  endif()
endfunction()
