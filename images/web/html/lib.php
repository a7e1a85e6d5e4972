<?php
// Helpers for the lab's pages. This tree is the same on all three servers
// (web1 pushes it to web2 and web3); what differs per server comes from
// Apache: SetEnv in /etc/apache2/conf-enabled/foolab-host.conf.

function setting(string $name, string $default = ''): string
{
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

function served_by(): string
{
    return setting('FOOLAB_HOST', gethostname());
}

function param(string $name): string
{
    return is_string($_GET[$name] ?? null) ? $_GET[$name] : '';
}

function send_json(array $data, int $status = 200): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    echo json_encode($data, JSON_UNESCAPED_SLASHES), "\n";
}
