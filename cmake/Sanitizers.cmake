# FERRY_SANITIZE=address,undefined builds everything with those sanitizers and
# makes every finding fatal.
if(FERRY_SANITIZE)
  add_compile_options(-fsanitize=${FERRY_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${FERRY_SANITIZE})
endif()
