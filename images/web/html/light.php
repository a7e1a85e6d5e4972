<?php
// The cheapest page there is (also what the health check asks for).
require __DIR__ . '/lib.php';
header('Content-Type: text/plain');
header('Cache-Control: no-store');
echo 'served by ', served_by(), ' at ', date('Y-m-d H:i:s'), "\n";
