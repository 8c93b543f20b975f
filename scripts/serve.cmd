@echo off
rem Windows entry point of the web desk (baocao serve) with the venv next to this folder.
rem Start it with the machine and restart it if it stops (Task Scheduler, see README):
rem   schtasks /Create /TN "baocao serve" /SC ONSTART /RU SYSTEM /TR "D:\baocao\scripts\serve.cmd"
cd /d "%~dp0.."
if not exist workbooks\logs mkdir workbooks\logs
".venv\Scripts\python.exe" -m baocao --config "%~dp0..\config.toml" serve >> workbooks\logs\serve.txt 2>&1
