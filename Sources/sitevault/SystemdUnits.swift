/// The systemd units shipped in packaging/systemd (a test keeps these copies identical), with
/// @SITEVAULT@ (the binary), @SITES@ (--site options) and @SITEDIR@ (control files folder) to fill in.
enum SystemdUnits {
    static let files: [(name: String, text: String)] = [
        ("sitevault.service", """
# sitevault backup service: every site of /etc/sitevault/sites/*.toml on its own schedule.
# Installed by `sitevault install-service` (which fills in the binary and the control files).
[Unit]
Description=sitevault backup service (site backups on their schedules)
Wants=network-online.target
After=network-online.target local-fs.target

[Service]
Type=simple
ExecStart=@SITEVAULT@ service @SITES@
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM interrupts a running backup, thaws its writers and exits 0; give it time.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=180
Restart=on-failure
RestartSec=30
# The web console and /metrics (docs/console.md); users: sitevault console passwd.
#Environment=SITEVAULT_CONSOLE_LISTEN=127.0.0.1:8080
# Over HTTPS (the key not readable by others):
#Environment=SITEVAULT_CONSOLE_TLS_CERT=/etc/sitevault/console.crt SITEVAULT_CONSOLE_TLS_KEY=/etc/sitevault/console.key
UMask=0077
NoNewPrivileges=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target

"""),
        ("sitevault-backup@.service", """
# One backup run of the site whose control file is /etc/sitevault/sites/%i.toml (for those who
# prefer timers to the service; see sitevault-backup@.timer). Exit codes: docs/status-messages.md.
[Unit]
Description=sitevault backup of site %i
Wants=network-online.target
After=network-online.target local-fs.target

[Service]
Type=oneshot
ExecStart=@SITEVAULT@ site backup --site @SITEDIR@/%i.toml
KillSignal=SIGTERM
TimeoutStopSec=180
UMask=0077
NoNewPrivileges=yes
PrivateTmp=yes

"""),
        ("sitevault-backup@.timer", """
# Daily backup of site %i at 02:00 local time (edit OnCalendar to match the site's [schedule]);
# a run missed while the machine was off runs once at boot (Persistent=true).
[Unit]
Description=Daily sitevault backup of site %i

[Timer]
OnCalendar=*-*-* 02:00:00
Persistent=true
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target

"""),
    ]
}
