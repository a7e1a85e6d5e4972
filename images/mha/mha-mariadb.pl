# MHA 0.58 (Debian 12) against MariaDB 10.11: two fixes, applied with
#   perl -pi mha-mariadb.pl /usr/share/perl5/MHA/*.pm
# 1. Version parsing: "10.11.6-MariaDB-0+deb12u1-log" holds more numbers than
#    the sprintf has fields; Perl 5.36 makes "Redundant argument in sprintf"
#    fatal (NodeUtil.pm 195/201, BinlogManager.pm 80; upstream
#    mha4mysql-manager#116, mha4mysql-node#35). Keep the first three (two).
s{sprintf\( '%03d%03d%03d', \$str =~ m/\(\\d\+\)/g \)}{sprintf( '%03d%03d%03d', ( \$str =~ m/(\\d+)/g )[0..2] )};
s{sprintf\( '%03d%03d', \$str =~ m/\(\\d\+\)/g \)}{sprintf( '%03d%03d', ( \$str =~ m/(\\d+)/g )[0..1] )};
# 2. MariaDB has no super_read_only (SlaveUtil.pm 245: "Unknown system
#    variable"): ask information_schema, where a missing variable is no row.
s{SELECT \\\@\\\@global\.super_read_only as Value}{SELECT COALESCE((SELECT VARIABLE_VALUE = 'ON' FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'super_read_only'), 0) AS Value};
