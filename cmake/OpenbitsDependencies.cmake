# Third-party libraries, all from Debian packages (tests/run.sh and service/quickstart.sh
# install them): libcurl4-openssl-dev libssl-dev libsqlite3-dev libspdlog-dev
# libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev libkrb5-dev libntlm0-dev libpacparser-dev
# googletest.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(spdlog REQUIRED)
find_package(sdbus-c++ REQUIRED)
find_package(sdbus-c++-tools REQUIRED)
if(OPENBITS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
