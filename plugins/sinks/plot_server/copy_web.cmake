# cmake -DFROM=<web folder> -DTO=<build folder> -P copy_web.cmake
# Copies the page's sources (not node_modules/, dist/ or tests) where npm builds them, so the
# source tree gets no build output.
file(GLOB_RECURSE files RELATIVE "${FROM}" "${FROM}/*")
foreach(file IN LISTS files)
  if(file MATCHES "^(node_modules|dist|test)/")
    continue()
  endif()
  configure_file("${FROM}/${file}" "${TO}/${file}" COPYONLY)
endforeach()
