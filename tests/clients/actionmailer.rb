# Rails' ActionMailer (Debian's ruby-actionmailer) delivering by SMTP with the smtp_settings of
# the table in docs/smtp.md; the MAILIY_* variables as in nodemailer.mjs.
begin
  require "action_mailer"
rescue LoadError
  abort "ActionMailer is missing: scripts/setup.sh test installs it (ruby-actionmailer)"
end

env = ENV
settings = {
  address: env.fetch("MAILIY_HOST"),
  port: Integer(env.fetch("MAILIY_PORT")),
  user_name: env.fetch("MAILIY_USER"),
  password: env.fetch("MAILIY_PASS"),
  authentication: :plain,
  open_timeout: 20,
  read_timeout: 20,
}
case env.fetch("MAILIY_MODE")
when "plain"
  # Ruby's Net::SMTP upgrades by itself when STARTTLS is offered; plain means saying no.
  settings[:enable_starttls_auto] = false
when "starttls"
  settings.merge!(enable_starttls: true, openssl_verify_mode: "peer", ca_file: env.fetch("MAILIY_CA"))
when "smtps"
  settings.merge!(tls: true, openssl_verify_mode: "peer", ca_file: env.fetch("MAILIY_CA"))
else
  raise "unknown MAILIY_MODE #{env["MAILIY_MODE"]}"
end
ActionMailer::Base.delivery_method = :smtp
ActionMailer::Base.smtp_settings = settings
ActionMailer::Base.raise_delivery_errors = true

class AppMailer < ActionMailer::Base
  def note(to, subject)
    mail(from: ENV.fetch("MAILIY_FROM"), to: to, subject: subject, body: "sent by ActionMailer")
  end
end

AppMailer.note(env.fetch("MAILIY_TO"), env.fetch("MAILIY_SUBJECT")).deliver_now
puts "sent"
