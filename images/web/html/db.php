<?php
// Reads go to this server's read database (DB_READ_HOST: db1 for web1, db2
// for web2 and web3); writes always go to the master db1 (DB_WRITE_HOST).
//   /db.php                                  rows in foo.ledger, on the read server
//   /db.php?note=X                           also: how many rows carry note X
//   /db.php?write=1&seq=N&writer=W&note=X    add a row, on the master
require __DIR__ . '/lib.php';

function connect(string $host): mysqli
{
    $db = mysqli_init();
    $db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 2);   // a dead database fails fast
    $db->options(MYSQLI_OPT_READ_TIMEOUT, 3);      // ... and so does a hung one
    $db->real_connect($host, setting('DB_USER', 'app'), setting('DB_PASSWORD'),
                      setting('DB_NAME', 'foo'));
    $db->set_charset('utf8mb4');
    return $db;
}

$out = [
    'served_by' => served_by(),
    'read_host' => setting('DB_READ_HOST', '10.1.1.21'),
    'write_host' => setting('DB_WRITE_HOST', '10.1.1.21'),
];
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);   // errors throw
try {
    if (param('write') !== '' && param('write') !== '0') {
        $seq = filter_var(param('seq'), FILTER_VALIDATE_INT, FILTER_NULL_ON_FAILURE);
        $writer = substr(param('writer'), 0, 32);
        $note = substr(param('note'), 0, 255);
        $db = connect($out['write_host']);
        $insert = $db->prepare(
            'INSERT INTO ledger (seq, writer, served_by, note) VALUES (?, ?, ?, ?)');
        $insert->bind_param('isss', $seq, $writer, $out['served_by'], $note);
        $insert->execute();
        $out['id'] = $db->insert_id;
    } else {
        $db = connect($out['read_host']);
        $row = $db->query('SELECT COUNT(*) AS n, MAX(id) AS last_id FROM ledger')->fetch_assoc();
        $out['rows'] = (int) $row['n'];
        $out['last_id'] = $row['last_id'] === null ? null : (int) $row['last_id'];
        if (param('note') !== '') {   // which rows this server's read database has
            $find = $db->prepare('SELECT COUNT(*) FROM ledger WHERE note = ?');
            $note = param('note');
            $find->bind_param('s', $note);
            $find->execute();
            $out['note_rows'] = (int) $find->get_result()->fetch_row()[0];
        }
    }
    send_json($out);
} catch (mysqli_sql_exception $e) {
    send_json($out + ['error' => $e->getMessage()], 503);
}
