<?php
// PHPMailer (Debian's libphp-phpmailer) with the settings of the table in docs/smtp.md; the
// MAILIY_* variables as in nodemailer.mjs. Trust: PHP's openssl.cafile (php.ini, or -d on the
// command line as the test does), which PHPMailer's TLS streams use like every PHP stream.
$autoload = '/usr/share/php/libphp-phpmailer/autoload.php';
if (!is_file($autoload)) {
    fwrite(STDERR, "PHPMailer is missing: scripts/setup.sh test installs it (libphp-phpmailer)\n");
    exit(1);
}
require $autoload;

use PHPMailer\PHPMailer\PHPMailer;

$env = getenv();
$mail = new PHPMailer(true);
$mail->isSMTP();
$mail->Host = $env['MAILIY_HOST'];
$mail->Port = (int) $env['MAILIY_PORT'];
$mail->SMTPAuth = true;
$mail->Username = $env['MAILIY_USER'];
$mail->Password = $env['MAILIY_PASS'];
$mail->Timeout = 20;
switch ($env['MAILIY_MODE']) {
    case 'plain':
        // PHPMailer upgrades by itself when STARTTLS is offered; plain means saying no.
        $mail->SMTPAutoTLS = false;
        break;
    case 'starttls':
        $mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
        break;
    case 'smtps':
        $mail->SMTPSecure = PHPMailer::ENCRYPTION_SMTPS;
        break;
    default:
        throw new Exception('unknown MAILIY_MODE ' . $env['MAILIY_MODE']);
}
$mail->setFrom($env['MAILIY_FROM']);
$mail->addAddress($env['MAILIY_TO']);
$mail->Subject = $env['MAILIY_SUBJECT'];
$mail->Body = 'sent by PHPMailer';
$mail->send();
echo "sent\n";
