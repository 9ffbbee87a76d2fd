# Compiler warnings used for every target of the project.
set(FERRY_WARNINGS
  -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings
  -Wformat-security -Wshadow -Wpointer-arith -fno-common)
if(FERRY_WERROR)
  list(APPEND FERRY_WARNINGS -Werror)
endif()
add_compile_options(${FERRY_WARNINGS})
