<?php
// The article's "cookie conundrum": the session lives in a file on the
// server that made it. Land on another server and your visits start over,
// unless all servers share the session directory (PHP_SESSION_DIR).
require __DIR__ . '/lib.php';

session_start();
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
send_json([
    'served_by' => served_by(),
    'session_id' => session_id(),
    'visits' => $_SESSION['visits'],
    'save_path' => session_save_path(),
]);
