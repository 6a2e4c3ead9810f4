#!/usr/bin/env bash
# Prints the home of a JDK >= 25 (the FFM API is final from 22; the build targets 25).
# Order: $JAVA_HOME, then every JDK under /usr/lib/jvm, newest first.
set -u
version_of() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}'; }
for home in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
  home=${home%/}
  [ -n "$home" ] && [ -x "$home/bin/javac" ] || continue
  v=$(version_of "$home")
  if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then echo "$home"; exit 0; fi
done
echo "No JDK 25 or newer found (looked at \$JAVA_HOME and /usr/lib/jvm/*)." >&2
echo "Install one (for example Eclipse Temurin 25) and set JAVA_HOME to it, then run make again." >&2
exit 1
