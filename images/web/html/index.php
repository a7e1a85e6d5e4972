<?php
require __DIR__ . '/lib.php';
$me = htmlspecialchars(served_by());
$read = htmlspecialchars(setting('DB_READ_HOST', '10.1.1.21'));
$write = htmlspecialchars(setting('DB_WRITE_HOST', '10.1.1.21'));
?>
<!DOCTYPE html>
<html>
<head><title><?= $me ?>: foolab web server</title></head>
<body>
<h1>Served by <?= $me ?></h1>
<p>This server reads from the database at <?= $read ?> and writes to <?= $write ?>.
Its content is edited on web1 only and copied here every minute.</p>
<ul>
  <li><a href="/light.php">light.php</a>: a cheap page</li>
  <li><a href="/heavy.php">heavy.php</a>: an expensive page (CPU)</li>
  <li><a href="/db.php">db.php</a>: read from the database
      (<a href="/db.php?write=1&amp;writer=browser">write a row</a>)</li>
  <li><a href="/session.php">session.php</a>: a PHP session that counts your visits</li>
</ul>
<p>The same site on each server: <a href="http://web1/">web1</a>,
<a href="http://web2/">web2</a>, <a href="http://web3/">web3</a>
(round-robin DNS sends visitors to all three in turn).</p>
</body>
</html>
