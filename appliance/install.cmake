# Installs the systemd units and the default configuration. It runs at
# install time (install(SCRIPT)), when the prefix is known even if it was
# given only to `cmake --install --prefix`: with /usr, as in a package, the
# configuration goes to /etc/ferry and the units to /lib/systemd/system
# (Debian 12's unit directory); any other prefix keeps both under it, and
# the units name the binary under that prefix. FERRY_APPLIANCE_DIR is set
# and FERRY_APPLIANCE_STAGED (a directory of the build tree for the units
# as installed) by the install(CODE) before this script.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc_dir /etc)
  set(unit_dir /lib/systemd/system)
else()
  set(etc_dir ${CMAKE_INSTALL_PREFIX}/etc)
  set(unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()

set(staged ${FERRY_APPLIANCE_STAGED})
file(MAKE_DIRECTORY ${staged})
foreach(unit ferry-mirror.service ferry-reconcile.service ferry-inbox.service
    ferry-console.service ferry-export@.service ferry-export@.timer)
  file(READ ${FERRY_APPLIANCE_DIR}/systemd/${unit} text)
  string(REPLACE "/usr/bin/ferry" "${CMAKE_INSTALL_PREFIX}/bin/ferry" text "${text}")
  string(REPLACE "/etc/ferry/" "${etc_dir}/ferry/" text "${text}")
  file(WRITE ${staged}/${unit} "${text}")
  file(INSTALL ${staged}/${unit} DESTINATION ${unit_dir}
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()

file(INSTALL ${FERRY_APPLIANCE_DIR}/etc/README ${FERRY_APPLIANCE_DIR}/etc/mirror.env
  ${FERRY_APPLIANCE_DIR}/etc/console.env
  ${FERRY_APPLIANCE_DIR}/etc/reconcile.yaml ${FERRY_APPLIANCE_DIR}/etc/inbox.env DESTINATION ${etc_dir}/ferry
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# Export jobs (ferry export --job NAME): one file each, none by default.
file(MAKE_DIRECTORY $ENV{DESTDIR}${etc_dir}/ferry/export.d)
file(INSTALL ${FERRY_APPLIANCE_DIR}/etc/logrotate DESTINATION ${etc_dir}/logrotate.d
  RENAME ferry PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
