<?php
// A page that costs CPU ("some requests cost more than others"): n rounds
// of SHA-256, always the same work for the same n. The default takes very
// roughly 50-100 ms. /heavy.php?n=20000 is cheaper, ?n=1000000 the most.
require __DIR__ . '/lib.php';

$n = filter_var(param('n'), FILTER_VALIDATE_INT,
    ['options' => ['min_range' => 1, 'max_range' => 1000000]]);
$n = $n === false ? 100000 : $n;

$start = hrtime(true);
$digest = 'foolab';
for ($i = 0; $i < $n; $i++) {
    $digest = hash('sha256', $digest);
}
send_json([
    'served_by' => served_by(),
    'n' => $n,
    'digest' => $digest,
    'ms' => round((hrtime(true) - $start) / 1e6, 1),
]);
